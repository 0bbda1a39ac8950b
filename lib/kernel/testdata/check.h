// CHECK for the guest test programs: a condition that does not hold is printed with its
// function and line, and counted in fails, which the program turns into its exit status.
#include <stdio.h>

static int fails;
#define CHECK(cond, ...)                                        \
	do {                                                    \
		if (!(cond)) {                                  \
			printf("FAIL %s:%d: ", __func__, __LINE__); \
			printf(__VA_ARGS__);                    \
			printf("\n");                           \
			fails++;                                \
		}                                               \
	} while (0)
