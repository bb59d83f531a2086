# ckpt_work.py OUT N: N steps of a computation, each written to OUT (flushed),
# then the result on stdout: "result X". Slow enough (about 40 ms a step) to
# be checkpointed, moved and killed half way; a run restarted from any of its
# checkpoints ends with the uninterrupted run's result and file. Used by the
# checkpoint and recovery tests (tests/integ/ckpt_*.sh, recover_*.sh).
import sys, time

out, n = sys.argv[1], int(sys.argv[2])
x = 1
with open(out, "w") as f:
    for i in range(n):
        for j in range(20000):
            x = (x * 1103515245 + 12345 + j) % 2147483648
        f.write("%d %d\n" % (i, x))
        f.flush()
        time.sleep(0.03)
print("result", x, flush=True)
