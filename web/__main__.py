from web._cli import main

main()
