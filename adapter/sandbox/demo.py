"""placeholder"""

import argparse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    pass


async def demo_command(args: argparse.Namespace) -> int:
    return 1
