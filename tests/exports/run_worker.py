"""``flask`` with the job tests' tasks registered: the Redis tests start ``flask worker`` through this."""
import sys

from flask.cli import main

import tests.exports.sample_tasks  # noqa: F401

if __name__ == "__main__":
    sys.argv[0] = "flask"
    main()
