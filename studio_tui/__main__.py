from .cli import main

if __name__ == "__main__":  # a spawned child process (Dask's LocalCluster workers) imports this module too
    raise SystemExit(main())
