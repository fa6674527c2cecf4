import io
import openpyxl
def test_smoke(brand):
    s = brand.s
    f = s.segments.export("vip-buyers", "xlsx")
    wb = openpyxl.load_workbook(io.BytesIO(f.content))
    print(list(wb.active.values))
    f = s.segments.export("vip-buyers", "csv")
    print(f.content[:300])
    print(s.contacts.list({"q": "5678"}))
    print(s.segments.update("vip-buyers", {"name": "VIP 新", "definition": {"type": "tags", "tags": ["vip"], "match": "none"}}))
    print(s.segments.versions("vip-buyers"))
