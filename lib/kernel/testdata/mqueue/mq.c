/* mq: makes queue /NAME with one message in it (argv[1] "make"), or says whether /NAME exists
 * (argv[1] "has"), for the mqueue file system test. */
#include <fcntl.h>
#include <mqueue.h>
#include <stdio.h>
#include <string.h>

int main(int argc, char **argv)
{
	if (argc != 3)
		return 2;
	if (strcmp(argv[1], "make") == 0) {
		mqd_t q = mq_open(argv[2], O_CREAT | O_RDWR, 0600, NULL);
		if (q == (mqd_t)-1 || mq_send(q, "hello", 5, 0) < 0) {
			perror("mq");
			return 1;
		}
		return 0;
	}
	mqd_t q = mq_open(argv[2], O_RDONLY);
	printf("%s: %s\n", argv[2], q == (mqd_t)-1 ? "absent" : "present");
	return 0;
}
