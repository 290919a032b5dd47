from prefect import flow
from prefect.runtime import deployment, flow_run


@flow
def not_deployed_flow():
    print("deployment id:", deployment.id)
    print("deployment name:", deployment.name)
    print("deployment parameters:", deployment.parameters)
    print("flow run name set:", bool(flow_run.name))


if __name__ == "__main__":
    not_deployed_flow()
