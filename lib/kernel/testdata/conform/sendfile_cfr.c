/* sendfile and copy_file_range between files. */
#include "conform.h"
#include <sys/sendfile.h>

int main(int argc, char **argv)
{
	conform_args(argc, argv);
	mkfile("src", "0123456789abcdef", 0644);
	int in = open("src", O_RDONLY);
	int out = open("dst", O_WRONLY | O_CREAT | O_TRUNC, 0644);
	resv("sendfile all", sendfile(out, in, NULL, 100));
	resv("in offset moved", lseek(in, 0, SEEK_CUR));
	off_t off = 4;
	resv("sendfile from offset 4", sendfile(out, in, &off, 4));
	say("offset now %ld, file offset %ld\n", (long)off, (long)lseek(in, 0, SEEK_CUR));
	close(out);
	pcontent("dst", "dst");
	out = open("cfr", O_WRONLY | O_CREAT | O_TRUNC, 0644);
	loff_t io = 10, oo = 0;
	resv("copy_file_range 10..", copy_file_range(in, &io, out, &oo, 100, 0));
	say("offsets: %lld %lld\n", (long long)io, (long long)oo);
	lseek(in, 0, SEEK_SET);
	resv("copy_file_range with file offsets", copy_file_range(in, NULL, out, NULL, 3, 0));
	resv("copy_file_range bad flags", copy_file_range(in, NULL, out, NULL, 3, 1));
	close(out);
	pcontent("cfr", "cfr");
	int rw = open("src", O_RDWR);
	io = 0;
	oo = 4;
	resv("copy_file_range overlapping same file", copy_file_range(rw, &io, rw, &oo, 8, 0));
	oo = 20;
	resv("copy_file_range same file apart", copy_file_range(rw, &io, rw, &oo, 4, 0));
	close(rw);
	pcontent("src", "src");
	int ro = open("src", O_RDONLY);
	resv("copy_file_range to O_RDONLY fd", copy_file_range(in, NULL, ro, NULL, 1, 0));
	mkdir("d", 0755);
	int dfd = open("d", O_RDONLY);
	resv("copy_file_range from dir", copy_file_range(dfd, NULL, open("x", O_CREAT | O_WRONLY, 0644), NULL, 1, 0));
	resv("sendfile from dir", sendfile(open("y", O_CREAT | O_WRONLY, 0644), dfd, NULL, 1));
	int p[2];
	pipe(p);
	lseek(in, 0, SEEK_SET);
	resv("sendfile to pipe", sendfile(p[1], in, NULL, 5));
	char b[8] = {0};
	read(p[0], b, 5);
	say("pipe got: %s\n", b);
	resv("copy_file_range from pipe", copy_file_range(p[0], NULL, open("z", O_CREAT | O_WRONLY, 0644), NULL, 1, 0));
	return 0;
}
