// Command goguest exercises the Go runtime inside the guest: threads (goroutines on several
// OS threads), timers, signals sent to itself, os/exec of a guest program, and files.
package main

import (
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"runtime"
	"sync"
	"syscall"
	"time"
)

func main() {
	runtime.GOMAXPROCS(4)
	var wg sync.WaitGroup
	sums := make([]int, 8)
	for i := range sums {
		wg.Add(1)
		go func() {
			defer wg.Done()
			runtime.LockOSThread() // force distinct threads
			for j := 0; j <= 1000000; j++ {
				sums[i] += j % 7
			}
			time.Sleep(10 * time.Millisecond)
		}()
	}
	wg.Wait()
	fmt.Println("goroutines", sums[0] == sums[7])
	t0 := time.Now()
	<-time.After(50 * time.Millisecond)
	fmt.Println("timer", time.Since(t0) >= 50*time.Millisecond)
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, syscall.SIGUSR1)
	syscall.Kill(os.Getpid(), syscall.SIGUSR1)
	select {
	case s := <-ch:
		fmt.Println("signal", s)
	case <-time.After(5 * time.Second):
		fmt.Println("signal timeout")
	}
	out, err := exec.Command("/bin/echo", "exec", "ok").Output()
	fmt.Printf("exec %q %v\n", out, err)
	err = exec.Command("/bin/sh", "-c", "exit 3").Run()
	fmt.Println("exit", err)
	os.WriteFile("/tmp/go.txt", []byte("data"), 0o644)
	b, err := os.ReadFile("/tmp/go.txt")
	fmt.Println("file", string(b), err)
	wd, _ := os.Getwd()
	fmt.Println("pid", os.Getpid() > 1, "ppid", os.Getppid(), "wd", wd)
}
