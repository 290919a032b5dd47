from prefect import flow, task


@task
def ok():
    return 1


@task
def bad():
    raise RuntimeError("bad")


@flow
def predicates_flow():
    good = ok(return_state=True)
    poor = bad(return_state=True)
    print("good", good.is_completed(), good.is_failed(), good.is_final())
    print("poor", poor.is_completed(), poor.is_failed(), poor.is_final())
    return good.result()


if __name__ == "__main__":
    print(predicates_flow())
