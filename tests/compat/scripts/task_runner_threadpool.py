import threading

from prefect import flow, task
from prefect.task_runners import ThreadPoolTaskRunner


@task
def thread_name(i):
    return threading.current_thread() is threading.main_thread()


@flow(task_runner=ThreadPoolTaskRunner(max_workers=2))
def threadpool_flow():
    on_main = [f.result() for f in [thread_name.submit(i) for i in range(3)]]
    print("any on main thread:", any(on_main))


if __name__ == "__main__":
    threadpool_flow()
