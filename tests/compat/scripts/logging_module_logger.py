from prefect import flow
from prefect.logging import get_logger, get_run_logger


@flow
def module_logger_flow():
    get_logger("my.module").info("plain logger")
    get_run_logger().info("run logger")
    print("logged twice")


if __name__ == "__main__":
    module_logger_flow()
