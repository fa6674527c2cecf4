"""Built-in catalogue entries: the Segment e-commerce spec's events, the demo brand's and the
events siyu itself writes (tag.added, stage.changed, …), so a new brand's timeline reads in
Chinese before anyone edits the catalogue. A stored entry's fields win over these, field by field.

Summaries are templates over the event's properties: ``{amount}`` is a property (formatted by
its kind: money as ¥, stage codes as stage names), and a part in ``[…]`` is left out when a
property it names is missing, so ``[{amount}][（{items}件）]`` gives ``¥35.04（1件）`` or ``¥35.04``."""

from __future__ import annotations

from typing import Any

#: Property labels shared by every event: (zh, en, kind).
PROPERTIES: dict[str, tuple[str, str, str]] = {
    "amount": ("金额", "Amount", "money"),
    "revenue": ("收入", "Revenue", "money"),
    "total": ("合计", "Total", "money"),
    "subtotal": ("小计", "Subtotal", "money"),
    "price": ("价格", "Price", "money"),
    "value": ("面值", "Value", "money"),
    "discount": ("优惠", "Discount", "money"),
    "shipping": ("运费", "Shipping", "money"),
    "tax": ("税费", "Tax", "money"),
    "quantity": ("数量", "Quantity", "number"),
    "items": ("件数", "Items", "number"),
    "order_id": ("订单号", "Order ID", "text"),
    "checkout_id": ("结算单号", "Checkout ID", "text"),
    "product_id": ("商品编号", "Product ID", "text"),
    "sku": ("商品 SKU", "SKU", "text"),
    "name": ("名称", "Name", "text"),
    "brand": ("品牌", "Brand", "text"),
    "category": ("分类", "Category", "text"),
    "coupon": ("优惠券", "Coupon", "text"),
    "coupon_id": ("优惠券编号", "Coupon ID", "text"),
    "currency": ("币种", "Currency", "text"),
    "content_id": ("内容编号", "Content ID", "text"),
    "path": ("页面路径", "Path", "text"),
    "url": ("链接", "URL", "text"),
    "title": ("标题", "Title", "text"),
    "query": ("搜索词", "Query", "text"),
    "channel": ("渠道", "Channel", "channel"),
    "tag": ("标签", "Tag", "text"),
    "segment": ("分群", "Segment", "text"),
    "segment_id": ("分群编号", "Segment ID", "text"),
    "from": ("原阶段", "From", "stage"),
    "to": ("新阶段", "To", "stage"),
    "reason": ("原因", "Reason", "text"),
    "source": ("来源", "Source", "text"),
    "group_id": ("群编号", "Group ID", "text"),
    "code": ("邀请码", "Code", "text"),
    "journey": ("旅程", "Journey", "text"),
    "step": ("步骤", "Step", "text"),
    "link": ("链接", "Link", "text"),
    "rating": ("评分", "Rating", "number"),
    "review_body": ("评价内容", "Review", "text"),
    "points": ("积分", "Points", "number"),
    "days": ("天数", "Days", "number"),
    "member_no": ("会员号", "Member number", "text"),
}

_ORDER = (
    "[{amount}][{revenue}][{total}][（{items}件）][（{quantity}件）]",
    "[{amount}][{revenue}][{total}][ ({items} items)][ ({quantity} items)]",
)
_PRODUCT = ("[{name}][ {category}][ {price}]", "[{name}][ {category}][ {price}]")

#: name → (zh, en, summary zh, summary en)
EVENTS: dict[str, tuple[str, str, str, str]] = {
    # Segment e-commerce spec (v2)
    "Products Searched": ("搜索商品", "Searched products", "[{query}]", "[{query}]"),
    "Product List Viewed": ("浏览商品列表", "Viewed a product list", "[{category}]", "[{category}]"),
    "Product List Filtered": ("筛选商品列表", "Filtered a product list", "[{category}]", "[{category}]"),
    "Promotion Viewed": ("看到促销", "Viewed a promotion", "[{name}]", "[{name}]"),
    "Promotion Clicked": ("点击促销", "Clicked a promotion", "[{name}]", "[{name}]"),
    "Product Clicked": ("点击商品", "Clicked a product", *_PRODUCT),
    "Product Viewed": ("浏览商品", "Viewed a product", *_PRODUCT),
    "Product Added": ("加入购物车", "Added to cart", *_PRODUCT),
    "Product Removed": ("移出购物车", "Removed from cart", *_PRODUCT),
    "Cart Viewed": ("查看购物车", "Viewed the cart", "", ""),
    "Checkout Started": ("开始结算", "Started checkout", *_ORDER),
    "Checkout Step Viewed": ("查看结算步骤", "Viewed a checkout step", "", ""),
    "Checkout Step Completed": ("完成结算步骤", "Completed a checkout step", "", ""),
    "Payment Info Entered": ("填写支付信息", "Entered payment info", "", ""),
    "Order Updated": ("修改订单", "Updated an order", *_ORDER),
    "Order Completed": ("下单", "Ordered", *_ORDER),
    "Order Refunded": ("退款", "Refunded", *_ORDER),
    "Order Cancelled": ("取消订单", "Cancelled an order", *_ORDER),
    "Coupon Entered": ("输入优惠券", "Entered a coupon", "[{coupon}]", "[{coupon}]"),
    "Coupon Applied": (
        "使用优惠券",
        "Applied a coupon",
        "[{coupon}][ {discount}]",
        "[{coupon}][ {discount}]",
    ),
    "Coupon Denied": ("优惠券不可用", "Coupon denied", "[{coupon}][ {reason}]", "[{coupon}][ {reason}]"),
    "Coupon Removed": ("取消优惠券", "Removed a coupon", "[{coupon}]", "[{coupon}]"),
    # siyu's own coupon events (siyu.coupons)
    "Coupon Issued": ("获得优惠券", "Received a coupon", "[{code}]", "[{code}]"),
    "Coupon Redeemed": ("核销优惠券", "Redeemed a coupon", "[{code}][ {discount}]", "[{code}][ {discount}]"),
    "Product Added to Wishlist": ("收藏商品", "Added to wishlist", *_PRODUCT),
    "Product Removed from Wishlist": ("取消收藏商品", "Removed from wishlist", *_PRODUCT),
    "Wishlist Product Added to Cart": ("收藏商品加购", "Wishlist item added to cart", *_PRODUCT),
    "Product Shared": ("分享商品", "Shared a product", *_PRODUCT),
    "Cart Shared": ("分享购物车", "Shared the cart", "", ""),
    "Product Reviewed": ("评价商品", "Reviewed a product", "[{rating}星]", "[{rating} stars]"),
    # the demo brand and common private-domain events
    "Page Viewed": ("浏览页面", "Viewed a page", "[{path}]", "[{path}]"),
    "Content Clicked": ("点击内容", "Clicked content", "[{category}]", "[{category}]"),
    "Message Received": ("收到消息", "Received a message", "[{channel}]", "[{channel}]"),
    "Message Replied": ("回复消息", "Replied to a message", "[{channel}]", "[{channel}]"),
    "Coupon Claimed": ("领取优惠券", "Claimed a coupon", "[{value}]", "[{value}]"),
    "Group Joined": ("加入社群", "Joined a group", "[{group}]", "[{group}]"),
    # customer groups (siyu.community; docs/community.md)
    "Group Left": ("退出社群", "Left a group", "[{group}]", "[{group}]"),
    "Group Message": ("群内发言", "Spoke in a group", "", ""),
    "Group Declining": (
        "所在群活跃下降",
        "Their group is declining",
        "[{group}][ {score}分]",
        "[{group}][ score {score}]",
    ),
    "Referral Sent": ("推荐好友", "Referred a friend", "", ""),
    # subscriptions (周期购; siyu.commerce.subscriptions, docs/orders.md)
    "Subscription Started": ("开通周期购", "Started a subscription", "[{plan}]", "[{plan}]"),
    "Subscription Renewed": (
        "周期购续费",
        "Subscription renewed",
        "[{plan}][ 第{renewal}期]",
        "[{plan}][ #{renewal}]",
    ),
    "Subscription Renewal Failed": (
        "周期购扣款失败",
        "Subscription renewal failed",
        "[第{failures}次]",
        "[failure {failures}]",
    ),
    "Subscription Renewal Due": (
        "周期购即将续费",
        "Subscription renewal due",
        "[{days}天后]",
        "[in {days} days]",
    ),
    "Subscription Paused": ("暂停周期购", "Paused a subscription", "", ""),
    "Subscription Resumed": ("恢复周期购", "Resumed a subscription", "", ""),
    "Subscription Cancelled": ("取消周期购", "Cancelled a subscription", "[{reason}]", "[{reason}]"),
    # written by siyu itself
    "tag.added": ("添加标签", "Tag added", "[{tag}]", "[{tag}]"),
    "tag.removed": ("移除标签", "Tag removed", "[{tag}]", "[{tag}]"),
    "segment.entered": ("进入分群", "Entered a segment", "[{segment}]", "[{segment}]"),
    "segment.exited": ("离开分群", "Left a segment", "[{segment}]", "[{segment}]"),
    "stage.changed": ("阶段变化", "Stage changed", "[{from} → ][{to}]", "[{from} → ][{to}]"),
    "link.clicked": ("点击短链", "Clicked a link", "", ""),
    # membership and points (siyu.loyalty; docs/loyalty.md)
    "Member Enrolled": ("开卡入会", "Became a member", "[{member_no}]", "[{member_no}]"),
    "Points Earned": ("获得积分", "Earned points", "[+{points}分]", "[+{points} points]"),
    "Points Spent": ("使用积分", "Spent points", "[-{points}分]", "[-{points} points]"),
    "Points Expiring": (
        "积分即将过期",
        "Points expiring soon",
        "[{points}分][，{days}天后过期]",
        "[{points} points][ in {days} days]",
    ),
    "Points Expired": ("积分过期", "Points expired", "[{points}分]", "[{points} points]"),
    "Tier Upgraded": ("会员升级", "Tier upgraded", "", ""),
    "Tier Downgraded": ("会员降级", "Tier downgraded", "", ""),
    # engagement (siyu.loyalty.checkins / tasks; docs/loyalty-engagement.md)
    "Checked In": ("签到", "Checked in", "[连续{streak}天]", "[day {streak} in a row]"),
    "Task Completed": ("完成任务", "Completed a task", "[{task}]", "[{task}]"),
    # Segment call types without an event name
    "identify": ("更新资料", "Profile updated", "", ""),
    "page": ("浏览页面", "Viewed a page", "[{path}]", "[{path}]"),
    "screen": ("浏览屏幕", "Viewed a screen", "[{name}]", "[{name}]"),
    "group": ("加入组织", "Joined a group", "", ""),
    "alias": ("关联身份", "Linked an identity", "", ""),
}


def builtin(name: str) -> dict[str, Any] | None:
    known = EVENTS.get(name)
    if known is None:
        return None
    zh, en, summary_zh, summary_en = known
    return {
        "display_zh": zh,
        "display_en": en,
        "summary_zh": summary_zh or None,
        "summary_en": summary_en or None,
    }
