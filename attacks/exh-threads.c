/* Tries: to exhaust the host's task table with threads (run at --pids 32).
 * Expected: pthread_create fails with EAGAIN at the run's pids limit (threads count as tasks). */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
static void *idle(void *arg) { (void)arg; pause(); return NULL; }
int main(void) {
    for (int i = 0; i < 100000; i++) {
        pthread_t t;
        pthread_attr_t attr;
        pthread_attr_init(&attr);
        pthread_attr_setstacksize(&attr, 64 * 1024);
        int rc = pthread_create(&t, &attr, idle, NULL);
        if (rc != 0) { printf("RESULT pthread_create:%s\n", rc == EAGAIN ? "EAGAIN" : strerror(rc)); return 0; }
    }
    printf("RESULT pthread_create:unlimited\n");
    return 0;
}
