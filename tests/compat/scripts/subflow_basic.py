from prefect import flow, task


@task
def clean(x):
    return x.strip()


@flow
def child_clean_flow(text: str):
    return clean(text)


@flow
def parent_of_child_flow():
    out = [child_clean_flow(t) for t in [" a ", "b "]]
    print("cleaned", out)


if __name__ == "__main__":
    parent_of_child_flow()
