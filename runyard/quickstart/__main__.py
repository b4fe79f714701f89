from runyard.quickstart import main

main()
