from sealfeed.cli import run

run()
