from prefect import flow, task
from prefect.cache_policies import CacheKeyFnPolicy

work = []


def by_first_letter(context, parameters):
    return parameters["word"][0]


@task(cache_policy=CacheKeyFnPolicy(cache_key_fn=by_first_letter), persist_result=True)
def shout(word):
    work.append(word)
    return word.upper()


@flow
def key_fn_policy_flow():
    print(shout("apple"), shout("avocado"), shout("banana"))
    print("worked on", work)


if __name__ == "__main__":
    key_fn_policy_flow()
