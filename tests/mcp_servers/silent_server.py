"""A process that reads its stdin and never answers (an MCP server stuck before
``initialize``): for the startup-timeout test. Writes its pid to argv[1]."""

import os
import sys
import time

with open(sys.argv[1], "w") as handle:
    handle.write(str(os.getpid()))
while True:
    time.sleep(1)
