from prefect import flow, task

count = {"n": 0}


def only_on_timeouts(task, task_run, state):
    try:
        state.result()
    except TimeoutError:
        return True
    except Exception:
        return False
    return False


@task(retries=3, retry_delay_seconds=0, retry_condition_fn=only_on_timeouts)
def picky():
    count["n"] += 1
    print(f"picky run {count['n']}")
    raise KeyError("not a timeout")


@flow
def condition_flow():
    try:
        picky()
    except KeyError as exc:
        print("caught", repr(exc))
    return count["n"]


if __name__ == "__main__":
    print("runs", condition_flow())
