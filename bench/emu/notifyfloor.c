/* The floor of the trapping mechanism gouml uses: a minimal C supervisor answering a trapped
 * getuid through seccomp user notification (with SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP when
 * given an argument), no work per call. bench/emu/run.sh prints it beside gouml's figures:
 * no supervisor in another process can trap a call faster on the machine. */
#define _GNU_SOURCE
#include <linux/seccomp.h>
#include <linux/filter.h>
#include <linux/audit.h>
#include <sys/syscall.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#define SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP 1
#ifndef SECCOMP_IOCTL_NOTIF_SET_FLAGS
#define SECCOMP_IOCTL_NOTIF_SET_FLAGS SECCOMP_IOW(4, __u64)
#endif
static int sendfd(int s, int fd){ char b[CMSG_SPACE(sizeof(int))]; struct msghdr m={0}; struct iovec v={"x",1}; m.msg_iov=&v; m.msg_iovlen=1; m.msg_control=b; m.msg_controllen=sizeof b; struct cmsghdr*c=CMSG_FIRSTHDR(&m); c->cmsg_level=SOL_SOCKET;c->cmsg_type=SCM_RIGHTS;c->cmsg_len=CMSG_LEN(sizeof(int)); memcpy(CMSG_DATA(c),&fd,sizeof fd); return sendmsg(s,&m,0);}
static int recvfd(int s){ char b[CMSG_SPACE(sizeof(int))]; char x; struct msghdr m={0}; struct iovec v={&x,1}; m.msg_iov=&v; m.msg_iovlen=1; m.msg_control=b; m.msg_controllen=sizeof b; if(recvmsg(s,&m,0)<0) return -1; int fd; memcpy(&fd,CMSG_DATA(CMSG_FIRSTHDR(&m)),sizeof fd); return fd;}
int main(int argc,char**argv){
  int sync = argc>1;
  int sp[2]; socketpair(AF_UNIX,SOCK_STREAM,0,sp);
  pid_t p=fork();
  if(p==0){
    struct sock_filter f[]={ BPF_STMT(BPF_LD|BPF_W|BPF_ABS,offsetof(struct seccomp_data,nr)),
      BPF_JUMP(BPF_JMP|BPF_JEQ|BPF_K,SYS_getuid,0,1), BPF_STMT(BPF_RET|BPF_K,SECCOMP_RET_USER_NOTIF), BPF_STMT(BPF_RET|BPF_K,SECCOMP_RET_ALLOW)};
    struct sock_fprog pr={4,f}; prctl(PR_SET_NO_NEW_PRIVS,1,0,0,0);
    int l=syscall(SYS_seccomp,SECCOMP_SET_MODE_FILTER,SECCOMP_FILTER_FLAG_NEW_LISTENER,&pr);
    sendfd(sp[0],l); close(l);
    struct timespec a,b; clock_gettime(CLOCK_MONOTONIC,&a); for(int i=0;i<100000;i++) getuid(); clock_gettime(CLOCK_MONOTONIC,&b);
    printf("notify_floor_us %.3f\n", ((b.tv_sec-a.tv_sec)*1e9+(b.tv_nsec-a.tv_nsec))/100000/1000.0); exit(0);
  }
  int l=recvfd(sp[1]);
  if(sync){ __u64 fl=SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP; ioctl(l,SECCOMP_IOCTL_NOTIF_SET_FLAGS,fl); }
  struct seccomp_notif n; struct seccomp_notif_resp r;
  for(;;){ memset(&n,0,sizeof n); if(ioctl(l,SECCOMP_IOCTL_NOTIF_RECV,&n)<0) break; memset(&r,0,sizeof r); r.id=n.id; r.val=0; ioctl(l,SECCOMP_IOCTL_NOTIF_SEND,&r);} 
  waitpid(p,0,0); return 0; }
