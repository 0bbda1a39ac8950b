/* /proc/self: exe, cwd, fd links, status and stat fields that are the same natively. */
#include "conform.h"

static void field(const char *file, const char *key)
{
	char line[512];
	FILE *f = fopen(file, "r");
	if (!f) {
		say("%s: %s\n", file, errname(errno));
		return;
	}
	while (fgets(line, sizeof line, f))
		if (strncmp(line, key, strlen(key)) == 0 && line[strlen(key)] == ':') {
			char *v = line + strlen(key) + 1;
			while (*v == ' ' || *v == '\t')
				v++;
			for (char *p = v; *p; p++)
				if (*p == '\t')
					*p = ' ';
			say("status %s: %s", key, v);
		}
	fclose(f);
}

int main(int argc, char **argv)
{
	conform_args(argc, argv);
	char b[PATH_MAX] = {0}, c[PATH_MAX];
	res("readlink /proc/self/exe", readlink("/proc/self/exe", b, sizeof b));
	char *base = strrchr(b, '/');
	say("exe basename: %s\n", base ? base + 1 : b);
	say("exe is this program: %s\n", yesno(sameino("/proc/self/exe", b)));
	memset(b, 0, sizeof b);
	readlink("/proc/self/cwd", b, sizeof b);
	getcwd(c, sizeof c);
	say("cwd link is getcwd: %s\n", yesno(strcmp(b, c) == 0));
	say("cwd link is .: %s\n", yesno(sameino("/proc/self/cwd", ".")));
	mkfile("f", "x", 0644);
	int fd = open("f", O_RDONLY);
	char p[64];
	snprintf(p, sizeof p, "/proc/self/fd/%d", fd);
	memset(b, 0, sizeof b);
	readlink(p, b, sizeof b);
	strcat(c, "/f");
	say("fd link names the file: %s\n", yesno(strcmp(b, c) == 0));
	unlink("f");
	memset(b, 0, sizeof b);
	readlink(p, b, sizeof b);
	strcat(c, " (deleted)");
	say("fd link of deleted file: %s\n", yesno(strcmp(b, c) == 0));
	struct stat st;
	lstat("/proc/self", &st);
	say("/proc/self is a link: %s\n", yesno(S_ISLNK(st.st_mode)));
	memset(b, 0, sizeof b);
	readlink("/proc/self", b, sizeof b);
	say("/proc/self names our pid: %s\n", yesno(atoi(b) == getpid()));
	int pp[2];
	pipe(pp);
	snprintf(p, sizeof p, "/proc/self/fd/%d", pp[0]);
	memset(b, 0, sizeof b);
	readlink(p, b, sizeof b);
	say("pipe fd link starts pipe:[: %s\n", yesno(strncmp(b, "pipe:[", 6) == 0));
	pcount("entries in /proc/self/fd (0-2, f, pipe, the listing)", "/proc/self/fd");
	pcount("entries in /proc/self/fdinfo (0-2, f, pipe, the listing)", "/proc/self/fdinfo");
	pcount("entries in /proc/thread-self/fd (0-2, f, pipe, the listing)", "/proc/thread-self/fd");
	pstat("/proc/self/fd", "/proc/self/fd");
	pstat("/proc/self/ns", "/proc/self/ns");
	pstat("/proc/self/task", "/proc/self/task");
	pstat("/proc", "/proc");
	field("/proc/self/status", "Name");
	field("/proc/self/status", "State");
	field("/proc/self/status", "Umask");
	field("/proc/self/status", "Uid");
	field("/proc/self/status", "Gid");
	field("/proc/self/status", "Threads");
	FILE *f = fopen("/proc/self/stat", "r");
	int pid, ppid;
	char comm[64], state;
	fscanf(f, "%d %63s %c %d", &pid, comm, &state, &ppid);
	fclose(f);
	say("stat: pid is getpid: %s comm=%s state=%c ppid is getppid: %s\n", yesno(pid == getpid()), comm, state, yesno(ppid == getppid()));
	f = fopen("/proc/self/cmdline", "r");
	memset(b, 0, sizeof b);
	size_t k = fread(b, 1, sizeof b, f);
	fclose(f);
	base = strrchr(b, '/');
	say("cmdline argv0 basename: %s, %zu bytes after it\n", base ? base + 1 : b, k - strlen(b) - 1 - (argc > 1 ? strlen(argv[1]) + 1 : 0));
	say("/proc/self/root is /: %s\n", yesno(sameino("/proc/self/root", "/")));
	say("/proc/thread-self is a link: %s\n", yesno(lstat("/proc/thread-self", &st) == 0 && S_ISLNK(st.st_mode)));
	resfd("open /proc/self/status for writing", open("/proc/self/status", O_WRONLY), 0);
	res("mkdir in /proc/self", mkdir("/proc/self/x", 0755));
	res("mkdir in /proc", mkdir("/proc/x", 0755));
	res("mkdir in /proc/self/fd", mkdir("/proc/self/fd/x", 0755));
	res("unlink /proc/self/status", unlink("/proc/self/status"));
	res("unlink /proc/meminfo", unlink("/proc/meminfo"));
	res("unlink /proc/self/x", unlink("/proc/self/x"));
	res("symlink in /proc/self", symlink("a", "/proc/self/x"));
	res("creat in /proc", open("/proc/newfile", O_CREAT | O_WRONLY, 0644));
	return 0;
}
