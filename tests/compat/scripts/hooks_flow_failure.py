from prefect import flow


def page_someone(flow, flow_run, state):
    print(f"hook: failure hook saw {state.message is not None}")


@flow(on_failure=[page_someone])
def hooked_failing_flow():
    raise RuntimeError("disk full")


if __name__ == "__main__":
    try:
        hooked_failing_flow()
    except RuntimeError as exc:
        print("caller caught", exc)
