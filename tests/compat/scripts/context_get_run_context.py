from prefect import flow, task
from prefect.context import FlowRunContext, TaskRunContext, get_run_context


@task
def in_task():
    ctx = get_run_context()
    return isinstance(ctx, TaskRunContext), ctx.task.name


@flow
def context_flow():
    ctx = get_run_context()
    print("flow context", isinstance(ctx, FlowRunContext), ctx.flow.name)
    print("task context", in_task())
    print("FlowRunContext.get() set:", FlowRunContext.get() is not None)


if __name__ == "__main__":
    context_flow()
    print("outside:", FlowRunContext.get())
