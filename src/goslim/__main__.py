from goslim.cli.app import main

raise SystemExit(main())
