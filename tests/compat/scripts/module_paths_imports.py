from prefect.flows import Flow, flow
from prefect.futures import PrefectFuture, PrefectFutureList, wait
from prefect.states import Completed, Failed, State
from prefect.tasks import Task, task


@task
def ident(x):
    return x


@flow
def module_paths_flow():
    fut = ident.submit(1)
    print("future is PrefectFuture:", isinstance(fut, PrefectFuture))
    many = ident.map([1, 2])
    print("map is PrefectFutureList:", isinstance(many, PrefectFutureList))
    wait(many)
    print(isinstance(ident, Task), isinstance(module_paths_flow, Flow))
    return fut.result()


if __name__ == "__main__":
    print(module_paths_flow(), State.__name__, Completed().type.value, Failed().type.value)
