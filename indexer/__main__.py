from indexer._cli import main

raise SystemExit(main())
