from prefect import flow


def first(flow, flow_run, state):
    print("first hook")


def second(flow, flow_run, state):
    print("second hook")


@flow(on_completion=[first, second])
def ordered_hooks_flow():
    print("in flow")


if __name__ == "__main__":
    ordered_hooks_flow()
