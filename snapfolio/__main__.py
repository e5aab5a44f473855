from snapfolio.cli import main

if __name__ == "__main__":  # dbt's spawned workers re-import __main__: never re-run the CLI
    main()
