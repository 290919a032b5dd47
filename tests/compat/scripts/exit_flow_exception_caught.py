from prefect import flow


@flow
def caught_exit_flow(n: int):
    if n < 0:
        raise ArithmeticError("negative")
    return n


if __name__ == "__main__":
    try:
        caught_exit_flow(-1)
    except ArithmeticError as exc:
        print("caught", type(exc).__name__, exc)
