from prefect import flow, task
from prefect.tasks import task_input_hash

called = []


@task(cache_key_fn=task_input_hash, persist_result=True)
def tokenize(text):
    called.append(text)
    return text.split()


@flow
def input_hash_flow():
    print(tokenize("a b c"))
    print(tokenize("a b c"))
    print(tokenize("d e"))
    print("tokenized", len(called))


if __name__ == "__main__":
    input_hash_flow()
