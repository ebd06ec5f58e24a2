from mnistgan.cli import main

raise SystemExit(main())
