#!/usr/bin/env python3
"""How soon an external change (virsh define/undefine on qemu:///system) is
visible in kanri's API: prints median and max latency over 10 rounds.
usage: KANRI_BUILD_DIR=build bench/events/run.py   (libvirtd must run)"""
import os, statistics, subprocess, sys, time
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tests", "integration"))
from kanri_harness import Kanrid
k = Kanrid(config="[manager]\nresync_interval = 3600\ncollect_interval = 0\n[hypervisor:local]\nuri = qemu:///system\n")
k.wait_connected(["local"])
xml = "<domain type='qemu'><name>kanri-evt-m</name><memory unit='MiB'>64</memory><os><type arch='x86_64' machine='pc'>hvm</type></os><devices><emulator>/usr/bin/qemu-system-x86_64</emulator></devices></domain>"
open("/tmp/evt.xml","w").write(xml)
ds=[]; us=[]
for i in range(10):
    t0=time.monotonic(); subprocess.run(["virsh","-c","qemu:///system","define","/tmp/evt.xml"],capture_output=True,check=True)
    t1=time.monotonic()
    while "kanri-evt-m" not in k.vms("local"): time.sleep(0.005)
    ds.append(time.monotonic()-t1)
    subprocess.run(["virsh","-c","qemu:///system","undefine","kanri-evt-m"],capture_output=True,check=True)
    t1=time.monotonic()
    while "kanri-evt-m" in k.vms("local"): time.sleep(0.005)
    us.append(time.monotonic()-t1)
print("define visible after: median %.0f ms max %.0f ms" % (statistics.median(ds)*1000, max(ds)*1000))
print("undefine visible after: median %.0f ms max %.0f ms" % (statistics.median(us)*1000, max(us)*1000))
k.stop()
