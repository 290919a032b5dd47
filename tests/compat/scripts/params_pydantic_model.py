from prefect import flow
from pydantic import BaseModel


class Config(BaseModel):
    name: str
    retries: int = 2


@flow
def model_param_flow(config: Config):
    print(type(config).__name__, config.name, config.retries)


if __name__ == "__main__":
    model_param_flow({"name": "ingest"})
    model_param_flow(Config(name="export", retries=5))
