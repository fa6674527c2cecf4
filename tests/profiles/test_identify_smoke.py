from siyu.context import AppContext


def test_identify_creates_then_finds(ctx: AppContext) -> None:
    p = ctx.parser
    with ctx.db.session() as s:
        r1 = ctx.profiles(s).identify([p.parse("phone", "13800138000")], {"name": "张三"})
    with ctx.db.session() as s:
        r2 = ctx.profiles(s).identify([p.parse("phone", "+86 138 0013 8000")])
    assert r1.created and not r2.created
    assert r1.contact_id == r2.contact_id
