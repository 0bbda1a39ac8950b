/* O_CREAT and O_EXCL: creation, existing files, and symlinks (dangling ones too). */
#include "conform.h"

int main(int argc, char **argv)
{
	conform_args(argc, argv);
	resfd("creat new O_CREAT|O_EXCL", open("a", O_WRONLY | O_CREAT | O_EXCL, 0644), 0);
	pstat("stat a", "a");
	resfd("again O_CREAT|O_EXCL", open("a", O_WRONLY | O_CREAT | O_EXCL, 0644), 0);
	resfd("again O_CREAT", open("a", O_WRONLY | O_CREAT, 0600), 0);
	pstat("mode kept", "a");
	resfd("O_EXCL without O_CREAT", open("a", O_RDONLY | O_EXCL), 0);
	symlink("target", "dangling");
	resfd("O_CREAT|O_EXCL on dangling symlink", open("dangling", O_WRONLY | O_CREAT | O_EXCL, 0644), 0);
	plstat("target after excl", "target");
	resfd("O_CREAT through dangling symlink", open("dangling", O_WRONLY | O_CREAT, 0640), 0);
	pstat("target created", "target");
	plstat("link itself", "dangling");
	mkdir("d", 0755);
	resfd("O_CREAT on a dir", open("d", O_RDONLY | O_CREAT, 0644), 0);
	resfd("O_CREAT|O_EXCL on a dir", open("d", O_RDONLY | O_CREAT | O_EXCL, 0644), 0);
	resfd("O_CREAT in missing dir", open("nodir/x", O_WRONLY | O_CREAT, 0644), 0);
	resfd("O_CREAT with trailing slash", open("new/", O_WRONLY | O_CREAT, 0644), 0);
	plstat("not created", "new");
	resfd("O_CREAT in dir", open("d/x", O_WRONLY | O_CREAT | O_EXCL, 0600), 0);
	pstat("d/x", "d/x");
	return 0;
}
