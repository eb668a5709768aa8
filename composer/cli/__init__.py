"""The command line: the argparse front end and its terminal progress bar."""
