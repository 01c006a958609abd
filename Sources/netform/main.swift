print("netform")
