"""Shared pieces of loadtest/run, loadtest/tune and loadtest/check_outputs.py (python3 stdlib only).

procs: start/stop servers by PID, CPU pinning, server CPU time from /proc.
servers: command lines for echod, the C epoll reference and nginx.
clients: run echoload and wrk, parse what they print.
sweep: the case plans and the loop that runs them.
report: results.csv, results.md, machine description.  plots: gnuplot PNGs.
ratio: the ratio mode's cases and paired ratios.  rss: the idle-connection memory mode.
"""
