from prefect import runtime

print("flow_run.id:", runtime.flow_run.id)
print("flow_run.tags:", runtime.flow_run.tags)
print("flow_run.parameters:", runtime.flow_run.parameters)
print("task_run.id:", runtime.task_run.id)
print("task_run.tags:", runtime.task_run.tags)
print("deployment.id:", runtime.deployment.id)
print("deployment.parameters:", runtime.deployment.parameters)

if __name__ == "__main__":
    print("done")
