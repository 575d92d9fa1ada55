# The regulation (/regulation/, order.pdf, sheet.pdf) arrives with the acknowledgements issue.
urlpatterns: list = []
