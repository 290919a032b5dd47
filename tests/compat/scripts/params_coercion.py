from datetime import date

from prefect import flow


@flow
def coercing_flow(n: int, when: date, flags: list[int]):
    print(type(n).__name__, n)
    print(type(when).__name__, when.isoformat())
    print(flags)


if __name__ == "__main__":
    coercing_flow("7", "2024-02-29", ["1", 2])
