from prefect import flow, task


@task
def parse(text):
    return int(text)


@flow
def resilient_parse_flow():
    values = []
    for raw in ["1", "x", "3"]:
        try:
            values.append(parse(raw))
        except ValueError:
            print("skipping", raw)
    return values


if __name__ == "__main__":
    print(resilient_parse_flow())
