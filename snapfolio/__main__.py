from snapfolio.cli import main

main()
