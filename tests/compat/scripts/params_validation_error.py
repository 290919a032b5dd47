from prefect import flow


@flow
def typed_params_flow(n: int, ratio: float = 0.5):
    return n * ratio


if __name__ == "__main__":
    try:
        typed_params_flow("not a number")
    except Exception as exc:
        print("error class:", type(exc).__name__)
