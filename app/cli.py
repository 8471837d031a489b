"""The subcommands of SPEC section 11."""


def main(argv: list[str]) -> int:
    raise SystemExit("not built yet")
