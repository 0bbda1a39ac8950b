/* Run in the guest by TestGuestNamespaces: SysV shared memory, semaphores and message
 * queues between a parent and its child, a POSIX message queue, an abstract Unix socket and
 * a TCP connection over the guest's own loopback. Prints one "name=ok" line per case. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <mqueue.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/ipc.h>
#include <sys/msg.h>
#include <sys/sem.h>
#include <sys/shm.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

struct msg { long type; char text[16]; };

int main(void) {
	int shm = shmget(IPC_PRIVATE, 4096, IPC_CREAT | 0600);
	int sem = semget(IPC_PRIVATE, 1, IPC_CREAT | 0600);
	int mq = msgget(IPC_PRIVATE, IPC_CREAT | 0600);
	if (shm < 0 || sem < 0 || mq < 0) { printf("ipc-get: %s\n", strerror(errno)); return 1; }
	char *p = shmat(shm, 0, 0);
	int as = socket(AF_UNIX, SOCK_DGRAM, 0);
	struct sockaddr_un an = {.sun_family = AF_UNIX};
	memcpy(an.sun_path, "\0guest-abstract", 15);
	socklen_t alen = sizeof(sa_family_t) + 15;
	if (bind(as, (void *)&an, alen) < 0) { printf("abstract-bind: %s\n", strerror(errno)); return 1; }
	int ls = socket(AF_INET, SOCK_STREAM, 0);
	struct ifreq ifr = {0};
	strcpy(ifr.ifr_name, "lo");
	ifr.ifr_flags = IFF_UP | IFF_RUNNING;
	if (ioctl(ls, SIOCSIFFLAGS, &ifr) < 0) { printf("lo-up: %s\n", strerror(errno)); return 1; }
	struct sockaddr_in in = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t inlen = sizeof in;
	if (bind(ls, (void *)&in, sizeof in) < 0 || listen(ls, 1) < 0 || getsockname(ls, (void *)&in, &inlen) < 0) {
		printf("tcp-listen: %s\n", strerror(errno)); return 1;
	}
	pid_t c = fork();
	if (c == 0) {
		strcpy(p, "from-child");
		struct sembuf up = {0, 1, 0};
		semop(sem, &up, 1);
		struct msg m = {1, "queued"};
		msgsnd(mq, &m, sizeof m.text, 0);
		int s = socket(AF_UNIX, SOCK_DGRAM, 0);
		sendto(s, "abstract", 8, 0, (void *)&an, alen);
		int t = socket(AF_INET, SOCK_STREAM, 0);
		if (connect(t, (void *)&in, sizeof in) == 0) write(t, "tcp", 3);
		_exit(0);
	}
	struct sembuf down = {0, -1, 0};
	if (semop(sem, &down, 1) == 0) printf("sem=ok\n");
	if (strcmp(p, "from-child") == 0) printf("shm=ok\n");
	struct msg m;
	if (msgrcv(mq, &m, sizeof m.text, 1, 0) > 0 && strcmp(m.text, "queued") == 0) printf("msg=ok\n");
	char b[16] = {0};
	if (recv(as, b, sizeof b, 0) == 8 && memcmp(b, "abstract", 8) == 0) printf("abstract=ok\n");
	int a = accept(ls, 0, 0);
	memset(b, 0, sizeof b);
	if (a >= 0 && read(a, b, sizeof b) == 3 && memcmp(b, "tcp", 3) == 0) printf("tcp=ok\n");
	int st;
	waitpid(c, &st, 0);
	struct mq_attr qa = {0, 4, 16, 0};
	mqd_t q = mq_open("/guest-q", O_CREAT | O_EXCL | O_RDWR, 0600, &qa);
	pid_t qc = fork();
	if (qc == 0) {
		mqd_t w = mq_open("/guest-q", O_WRONLY);
		_exit(w == (mqd_t)-1 || mq_send(w, "posix", 5, 1) != 0);
	}
	waitpid(qc, &st, 0);
	unsigned prio = 0;
	memset(b, 0, sizeof b);
	if (q != (mqd_t)-1 && mq_receive(q, b, sizeof b, &prio) == 5 && !memcmp(b, "posix", 5) && prio == 1 &&
	    mq_unlink("/guest-q") == 0 && mq_open("/guest-q", O_RDONLY) == (mqd_t)-1 && errno == ENOENT)
		printf("posix-mq=ok\n");
	else
		printf("posix-mq: %s\n", strerror(errno));
	shmctl(shm, IPC_RMID, 0); semctl(sem, 0, IPC_RMID); msgctl(mq, IPC_RMID, 0);
	return 0;
}
