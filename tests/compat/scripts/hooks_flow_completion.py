from prefect import flow


def announce_done(flow, flow_run, state):
    print(f"hook: {flow.name} ended {state.type.value}")


@flow(on_completion=[announce_done])
def hooked_success_flow():
    print("body")
    return 1


if __name__ == "__main__":
    hooked_success_flow()
