print("scientist")
