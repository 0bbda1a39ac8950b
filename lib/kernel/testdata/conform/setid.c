/* Set-id bits (the regression case): fchmod(fd, 04755) and chmod show them to the
 * guest through stat and fstat; chown and writes clear them as Linux does. conform_test.go
 * checks afterwards that no host file below the guest's scratch directories got one.
 * conform: needs host root (a directory of group 1000) */
#include "conform.h"

int main(int argc, char **argv)
{
	conform_args(argc, argv);
	mkfile("kept", "#!/bin/sh\n", 0644);
	int fd = open("kept", O_RDWR);
	res("fchmod 04755", fchmod(fd, 04755));
	pfstat("fstat", fd);
	pstat("stat", "kept");
	close(fd);
	mkfile("sgid", "", 0644);
	res("chmod 02755", chmod("sgid", 02755));
	pstat("stat", "sgid");
	res("chmod 06755", chmod("sgid", 06755));
	pstat("stat", "sgid");
	fd = open("sgid", O_WRONLY);
	resv("write as root", write(fd, "x", 1));
	pfstat("after a write by root (CAP_FSETID keeps the bits)", fd);
	close(fd);
	res("chown to self", chown("sgid", 0, 0));
	pstat("after chown by root", "sgid");
	mkfile("gnox", "", 0644);
	chmod("gnox", 02744);
	chown("gnox", 0, 0);
	pstat("setgid without group exec after chown", "gnox");
	mkfile("f", "", 0644);
	fd = open("f", O_RDONLY);
	res("fchmod 04755 on O_RDONLY fd", fchmod(fd, 04755));
	pfstat("fstat", fd);
	close(fd);
	res("truncate", truncate("f", 1));
	pstat("after truncate by root", "f");
	mkdir("sd", 0755);
	chown("sd", 0, 1000);
	res("chmod dir g+s", chmod("sd", 02775));
	pstat("sd", "sd");
	mkfile("sd/in", "", 0644);
	pstat("file in setgid dir", "sd/in");
	mkdir("sd/sub", 0755);
	pstat("dir in setgid dir", "sd/sub");
	close(open("sd/x", O_CREAT | O_WRONLY, 02755));
	pstat("creat 02755 in setgid dir (group 1000 not ours)", "sd/x");
	fd = open("kept2", O_CREAT | O_RDWR, 04711);
	pfstat("creat 04711", fd);
	close(fd);
	return 0;
}
