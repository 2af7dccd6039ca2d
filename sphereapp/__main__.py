from sphereapp.cli import main

raise SystemExit(main())
