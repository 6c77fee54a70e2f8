"""A protein trial for the peer benchmark: sends $PROTEIN_PARAMS to the
harness's evaluation socket (argv[1]), sleeps as told (parallel runs), and
writes score= and cost= to $PROTEIN_RESULT. Runs with python -S: stdlib only."""
import json
import os
import socket
import sys
import time

s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.connect(sys.argv[1])
s.sendall(os.environ["PROTEIN_PARAMS"].encode() + b"\n")
reply = json.loads(s.makefile("rb").readline())
if reply["sleep"] > 0:
    time.sleep(reply["sleep"])
with open(os.environ["PROTEIN_RESULT"], "a") as f:
    f.write("score=%r\ncost=%r\n" % (reply["score"], reply["cost"]))
