from prefect import task


@task
def standalone(x):
    return x + 1


if __name__ == "__main__":
    print("standalone task returned", standalone(1))
